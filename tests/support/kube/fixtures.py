"""Kubernetes API fixtures (kmock with the project's protocol fixes); see kmock_ext.py."""
