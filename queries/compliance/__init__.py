"""Collection rules: the versioned rule set the contact metrics and the sync judge contacts by."""
