"""The API's routes, one router per area; each parses, calls the application layer and
renders."""
