"""SpiffWorkflow 3 running an SOP written as BPMN, persisted the way its users persist it."""
