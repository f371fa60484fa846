"""JetDeck's front doors: the JSON API, the web app, the workers and the CLI."""
