"""Payment providers: the plugin contract, the registry and the built-in providers."""
