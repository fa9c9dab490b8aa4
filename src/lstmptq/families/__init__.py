"""Classifier families: one module each, registered in lstmptq.registry.CLASSIFIERS.

A family module is light at import (heavy libraries inside its functions): the Snakefile reads
its resource hints while building the DAG. docs/extending.md lists what a family provides.
"""
