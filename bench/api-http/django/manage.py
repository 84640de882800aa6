#!/usr/bin/python3
"""The Django service's citas API, rebuilt idiomatically for the benchmark."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
