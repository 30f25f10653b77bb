"""The Streamlit workbench: router (app.py), pages/, session, state, formatting, charts, network views."""
