"""`endpoints`: the config's endpoint -> business unit, product and owner mapping, the join key of ML and business."""
