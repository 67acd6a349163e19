"""Pictures of samples: PNG image grids and matplotlib scatter plots, shared by training's
snapshots and TensorBoard logs and by the reports."""
