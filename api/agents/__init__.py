"""The MCP server for AI assistants: tools that answer in the dataset's own terms (regions, years, kinds, search) and
return every record with its verbatim quotes, offsets and citation; over stdio (python -m api.agents) and Streamable
HTTP at /mcp on the web app (http.py), with llms.txt. It reads through the REST API's own code: web/ for arguments,
resolution and shapes, api.query for every statement."""
