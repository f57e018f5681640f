"""Tests against a real JupyterHub: lesson 5's page frame for a hub user, in a real Chromium."""
