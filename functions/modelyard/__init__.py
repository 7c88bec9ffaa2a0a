"""Modelyard: an OpenAI-compatible LLM gateway for AWS.

Importing the package has no side effects: no AWS client, no network, no file read.
"""

__version__ = "0.1.0"
