"""GAN baselines: plain GAN, learned inverse mapping and post-hoc learned inference (§2.2)."""
