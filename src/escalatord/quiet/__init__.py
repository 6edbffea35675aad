"""Run-time silences (`escalatord silence`, the API), kept in the store: the record floor."""
