"""What `genzoo compare` renders: the toy report (figure, HTML), the image report, and the
paper's findings checked against the measured numbers. Imports nothing from compare or cli."""
