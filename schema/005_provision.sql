-- 005_provision: what provisioning learns from the marketplace.
--
-- order_info is the order as the marketplace's order query returned it
-- (normalised, the "order" member of the hook document); product, SKU,
-- charging mode and expiry are copied from its line onto the instance.
ALTER TABLE instance ADD COLUMN order_info jsonb;
