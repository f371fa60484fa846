"""JetDeck's domain: everything the API, the web app and the workers share."""
