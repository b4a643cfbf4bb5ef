/**
 * A DOM for the XML core in Node (the page has its own): @xmldom/xmldom, strict — any error
 * or warning of the parser is a refusal, never a best-effort document — and xpath, as
 * xmldsigjs's Node set-up asks. Idempotent; call before verifying a signed document.
 */
import * as xmldom from '@xmldom/xmldom';
import { setNodeDependencies } from 'xml-core';
import xpath from 'xpath';

class StrictDOMParser extends xmldom.DOMParser {
  constructor() {
    super({
      onError: (level: string, message: string) => {
        throw new Error(`XML ${level}: ${message}`);
      },
    });
  }
}

let done = false;

export function useNodeXml(): void {
  if (done || typeof (globalThis as { DOMParser?: unknown }).DOMParser !== 'undefined') return;
  setNodeDependencies({
    DOMParser: StrictDOMParser,
    XMLSerializer: xmldom.XMLSerializer,
    DOMImplementation: xmldom.DOMImplementation,
    xpath,
  } as unknown as Parameters<typeof setNodeDependencies>[0]);
  done = true;
}
