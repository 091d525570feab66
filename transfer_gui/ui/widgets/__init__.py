"""Reusable widgets, by kind: `plots` (curves, the confusion matrix, probability bars),
`tables` (lists, grids, the layer tree and the runs table), `inputs` (generated option fields,
folder fields, the preset bar, the drop zone, the augmentation preview) and `notices` (banners,
dialogs, progress, advice). Pages use them; they never import a page."""
