"""CDS Hooks 2.0 service for axSpA therapy switching: the HTTP face and the protocol."""
