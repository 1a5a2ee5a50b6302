"""vqvae"""
