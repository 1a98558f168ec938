"""The web front door: headers, sessions, login (password and ProConnect), API
guards, permission cache, error pages, health check and logs."""
