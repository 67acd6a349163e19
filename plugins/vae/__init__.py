"""The VAE baseline (Kingma & Welling 2013) with ALI's encoder/decoder shapes."""
