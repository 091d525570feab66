"""Where the user gives values: fields generated from the recipe schema, folder fields, the
preset bar and its flow layout, the drop zone, the augmentation preview."""
