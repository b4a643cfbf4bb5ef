/**
 * The part of WebUSB's `USBDevice` the CCID driver uses, as structural types: the browser's
 * own object satisfies them, and so does the emulated device of the tests. Declared here
 * because TypeScript's DOM library has no WebUSB types, and so that the core stays free of
 * DOM types.
 */

export type UsbTransferStatus = 'ok' | 'stall' | 'babble';

export interface UsbInTransferResult {
  data?: DataView;
  status: UsbTransferStatus;
}

export interface UsbOutTransferResult {
  bytesWritten: number;
  status: UsbTransferStatus;
}

export interface UsbControlSetup {
  requestType: 'standard' | 'class' | 'vendor';
  recipient: 'device' | 'interface' | 'endpoint' | 'other';
  request: number;
  value: number;
  index: number;
}

export interface UsbDeviceLike {
  readonly vendorId: number;
  readonly productId: number;
  readonly productName?: string | undefined;
  readonly serialNumber?: string | undefined;
  readonly opened: boolean;
  readonly configuration: { configurationValue: number } | null;
  open(): Promise<void>;
  close(): Promise<void>;
  selectConfiguration(configurationValue: number): Promise<void>;
  claimInterface(interfaceNumber: number): Promise<void>;
  releaseInterface(interfaceNumber: number): Promise<void>;
  controlTransferIn(setup: UsbControlSetup, length: number): Promise<UsbInTransferResult>;
  controlTransferOut(setup: UsbControlSetup, data?: Uint8Array): Promise<UsbOutTransferResult>;
  transferIn(endpointNumber: number, length: number): Promise<UsbInTransferResult>;
  transferOut(endpointNumber: number, data: Uint8Array): Promise<UsbOutTransferResult>;
  clearHalt(direction: 'in' | 'out', endpointNumber: number): Promise<void>;
}
