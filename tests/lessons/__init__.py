"""Whole-lesson tests: every lesson restartable from its setup cell, step by step."""
