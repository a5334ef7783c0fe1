"""Throwaway registers for the declaration tests; imported only in a subprocess (never by the main suite)."""
