"""Tests of the CRM core: models, permissions, services, import, backup."""
