"""The workflow's steps, one module per stage and rule file (workflow/rules/<stage>.smk).

Each step takes the files its rule names (inputs and outputs) and its settings, and writes
its outputs atomically. The rules call them through thin scripts in workflow/scripts/; tests
and users can call them directly. Heavy libraries are imported inside the steps that need
them, so a table job never pays for torch and only PTQ and KS jobs import brevitas.
"""
