"""Helpers shared by the test suite: free ports, real servers and a real browser."""
