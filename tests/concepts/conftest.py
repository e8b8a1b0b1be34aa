"""The concepts defined once: settings, errors, dates and the working-day calendar, buckets, filters."""
