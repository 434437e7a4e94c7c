"""Operator tools run from the command line (`python -m crm_app.cli ...`): not domain logic,
nothing here is called by pages or jobs."""
