// Keeps hearsay_testutil non-empty before any helper exists.
