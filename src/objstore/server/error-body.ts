// The HTML bodies Swift (swob RESPONSE_REASONS) sends with non-2xx answers, so clients that show
// or parse them see the same text from the embedded server.
const REASONS: Record<number, [string, string]> = {
  202: ["Accepted", "The request is accepted for processing."],
  400: ["Bad Request", "The server could not comply with the request since it is either malformed or otherwise incorrect."],
  401: ["Unauthorized", "This server could not verify that you are authorized to access the document you requested."],
  403: ["Forbidden", "Access was denied to this resource."],
  404: ["Not Found", "The resource could not be found."],
  405: ["Method Not Allowed", "The method is not allowed for this resource."],
  408: ["Request Timeout", "The server has waited too long for the request to be sent by the client."],
  409: ["Conflict", "There was a conflict when trying to complete your request."],
  411: ["Length Required", "Content-Length header required."],
  412: ["Precondition Failed", "A precondition for this request was not met."],
  413: ["Request Entity Too Large", "The body of your request was too large for this server."],
  416: ["Requested Range Not Satisfiable", "The Range requested is not available."],
  422: ["Unprocessable Entity", "Unable to process the contained instructions"],
  499: ["Client Disconnect", "The client was disconnected during request."],
  500: ["Internal Error", "The server has either erred or is incapable of performing the requested operation."],
  501: ["Not Implemented", "The requested method is not implemented by this server."],
  503: ["Service Unavailable", "The server is currently unavailable. Please try again at a later time."],
};

export function swiftErrorBody(status: number): string {
  const r = REASONS[status] ?? REASONS[500]!;
  return `<html><h1>${r[0]}</h1><p>${r[1]}</p></html>`;
}
