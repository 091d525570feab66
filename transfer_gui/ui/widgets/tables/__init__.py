"""Lists and tables: image grids, prediction and problem lists, the runs table and its
style, the layer tree."""
