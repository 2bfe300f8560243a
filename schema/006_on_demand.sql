-- 006_on_demand: one instance per on-demand product of an order.
--
-- An on-demand (ON_DEMAND) order may reach newInstance once per billing
-- item, each call with its own order line; the instance is keyed on the
-- order and the product (spec/README.md reading 4). The first line to be
-- provisioned owns it; the instances of the other lines become aliases of
-- it (alias_of) with the same access data, so every instanceId the
-- marketplace was given answers queryInstance.
ALTER TABLE instance ADD COLUMN alias_of text REFERENCES instance (instance_id);

CREATE UNIQUE INDEX instance_on_demand_once ON instance (order_id, product_id, is_test)
    WHERE charging_mode = 'ON_DEMAND' AND alias_of IS NULL AND state <> 'failed';
