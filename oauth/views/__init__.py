"""Views of the authorization server, one module per concern."""
