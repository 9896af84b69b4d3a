#!/usr/bin/env python
"""The stock django-oauth-toolkit peer of the benchmark (bench/run.py builds and serves it)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dotpeer.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
