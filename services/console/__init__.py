"""The web console: holds, decisions, licences, catalogue, audit and reviews for people."""
