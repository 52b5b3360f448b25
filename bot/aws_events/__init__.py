"""Key events from AWS arriving at `POST /aws/events`: verifying and reading them."""
