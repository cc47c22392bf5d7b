/** The `type/subtype` of a Content-Type header, lower-case, or undefined when absent or not well-formed. */
export function mediaType(contentType: string | undefined): string | undefined {
  const mime = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/.test(mime) ? mime : undefined;
}
