-- 015_order_applied: which order an instance's product and SKU come from.
--
-- Change jobs of one instance may run out of order (two hosts' jobs
-- children, a retry after a failed marketplace call): an upgrade applied
-- after a later one would bring back the older SKU. The order applied
-- last is kept as (its createTime, the change job's id): a change job
-- sets the product, SKU, charging mode and order document only when its
-- order is not older than that (same createTime: the later call, whose
-- job id is higher). Expiry is unaffected: it only ever moves forward.
ALTER TABLE instance
    ADD COLUMN applied_order_at timestamptz,
    ADD COLUMN applied_order_job bigint;
