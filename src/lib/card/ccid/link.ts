/**
 * What carries CCID messages between the driver and the reader: USB bulk and interrupt pipes
 * (./usb-link.ts, WebUSB) or HID reports (./hid-link.ts, WebHID, our framing). The driver
 * (./driver.ts) speaks CCID over either.
 */
import type { CcidClass } from './descriptor.js';

export interface CcidLink {
  readonly kind: 'webusb' | 'webhid';
  /** The reader's name as the device gives it. */
  readonly product: string;
  readonly ccid: CcidClass;
  /** Whether the reader notifies slot changes (else the driver polls). */
  readonly notifies: boolean;
  /** Sends one whole message; throws CcidError (`transfer_failed`, `closed`). */
  send(message: Uint8Array): Promise<void>;
  /**
   * The next bytes from the reader (a transfer, or a whole message): the driver joins them into
   * messages. At most `maxLength` are asked for. Throws CcidError. Not cancellable: a call
   * given up by the driver's timeout is taken up again by its next read.
   */
  receive(maxLength: number): Promise<Uint8Array>;
  /** The next notification (NotifySlotChange, HardwareError); null once notifications are unusable. Throws CcidError `closed`. */
  notification(): Promise<Uint8Array | null>;
  close(): Promise<void>;
}
