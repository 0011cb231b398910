"""Stage 3, scoring a reply: letter extraction, text metrics and the optional judge."""
