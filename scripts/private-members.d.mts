import type { Plugin } from 'vite';

export const PRIVATE_MEMBERS_JSON: string;
export function findPrivateMembers(tsconfig?: string): Promise<string[]>;
export function readPrivateMembers(): string[];
export function privateMemberNames(names?: string[]): Record<string, string>;
export function privateMembersPlugin(): Plugin;
