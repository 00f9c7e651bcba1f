"""Synthetic generation: playbooks, candidate validation, the generators and the jobs that run them."""
