"""The admin Lambda: the same FastAPI app, served buffered through Mangum.

API Gateway sends only `/admin/{proxy+}` here, behind IAM auth; this function's role is the
only one that may write ConfigTable (keys, tenants). The router function serves everything
else and can only read ConfigTable. Importing this module creates no AWS client.
"""

from mangum import Mangum

from modelyard.api.app import create_app
from modelyard.logs import configure_logging

configure_logging()
app = create_app(public=False, admin=True)
handler = Mangum(app, lifespan="off", api_gateway_base_path="/")
