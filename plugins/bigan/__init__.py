"""BiGAN (Donahue et al. 2016): ALI with a deterministic encoder."""
