"""GAN baselines: plain GAN (more to come: learned inverse mapping, post-hoc inference)."""
