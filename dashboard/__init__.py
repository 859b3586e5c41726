"""dashboard: a Streamlit app over hashrc's reports and captures (public APIs and files only)."""
