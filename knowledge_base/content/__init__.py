"""Content: KB entries, releases, drafts, the console editor, import/export."""
