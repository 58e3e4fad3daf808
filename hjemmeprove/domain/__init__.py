"""Domain rules with no database and no Qt: calendar, CPR, fees, allocation."""
